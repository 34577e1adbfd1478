"""Obtaining one certificate from an ACME CA (RFC 8555) with certbot's acme library.

The library is synchronous (requests); callers run `issue` in a thread or a django-q2
task, never on the event loop. One `Session` holds the account for a renewal run.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from dataclasses import dataclass, field

import josepy as jose
import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from autotls import store, tlsalpn

log = logging.getLogger("moxweb.autotls")

DIRECTORY_ALIASES = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
HTTP01 = "http-01"
TLSALPN01 = tlsalpn.TYPE
SUPPORTED_CHALLENGES = (HTTP01, TLSALPN01)


class ACMEError(Exception):
    """Obtaining a certificate failed; the message says where and why."""


@dataclass(frozen=True)
class ACMEConfig:
    directory: str
    email: str = ""
    challenges: tuple[str, ...] = (HTTP01, TLSALPN01)
    # CA bundle (file) for the connection to the ACME server; empty: the system's.
    ca_bundle: str = ""
    request_timeout: float = 30.0  # each HTTP request to the CA
    order_timeout: float = 120.0  # a whole order: challenges, finalization, download


def config_from_settings() -> ACMEConfig | None:
    """The configured ACME CA, or None when ACME is off (MOX_ACME_DIRECTORY empty)."""
    directory = settings.MOX_ACME_DIRECTORY.strip()
    if not directory:
        return None
    challs = tuple(c for c in settings.MOX_ACME_CHALLENGES if c in SUPPORTED_CHALLENGES)
    return ACMEConfig(
        directory=DIRECTORY_ALIASES.get(directory, directory),
        email=settings.MOX_ACME_EMAIL,
        challenges=challs or (HTTP01, TLSALPN01),
        ca_bundle=settings.MOX_ACME_CA_BUNDLE,
        request_timeout=float(settings.MOX_ACME_TIMEOUT),
        order_timeout=float(settings.MOX_ACME_ORDER_TIMEOUT),
    )


@dataclass
class Session:
    """An ACME client with a registered account (RFC 8555 section 7.3)."""

    config: ACMEConfig
    acme: client.ClientV2 = field(init=False)
    account_key: jose.JWKEC = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        self.account_key = jose.JWKEC(key=store.load_or_create_account_key())
        net = client.ClientNetwork(
            self.account_key,
            alg=jose.ES256,
            verify_ssl=cfg.ca_bundle or True,  # type: ignore[arg-type]  # requests takes a path too
            user_agent="moxweb",
            timeout=int(cfg.request_timeout) or 1,
        )
        try:
            directory = client.ClientV2.get_directory(cfg.directory, net)
        except Exception as exc:
            raise ACMEError(f"cannot fetch ACME directory {cfg.directory}: {_describe(exc)}") from exc
        self.acme = client.ClientV2(directory, net)
        url = store.account_url(cfg.directory)
        if url:
            net.account = messages.RegistrationResource(uri=url, body=messages.Registration())
        else:
            self._register()

    def _register(self) -> None:
        cfg = self.config
        # RFC 8555 section 7.3: agreeing to the terms is required by most CAs; the
        # operator agreed by configuring the CA.
        reg = (
            messages.NewRegistration.from_data(email=cfg.email, terms_of_service_agreed=True)
            if cfg.email
            else messages.NewRegistration(terms_of_service_agreed=True)
        )
        try:
            regr = self.acme.new_account(reg)
            url = regr.uri
        except errors.ConflictError as exc:
            # RFC 8555 section 7.3.1: the key already has an account; its URL is in Location.
            url = exc.location
            self.acme.net.account = messages.RegistrationResource(uri=url, body=messages.Registration())
        except Exception as exc:
            raise ACMEError(f"ACME account registration at {cfg.directory} failed: {_describe(exc)}") from exc
        assert url
        store.save_account_url(cfg.directory, url)
        log.info("acme account registered", extra={"directory": cfg.directory, "account": url})

    def close(self) -> None:
        self.acme.net.session.close()

    def issue(self, hostname: str) -> store.StoredCert:
        try:
            return self._issue(hostname)
        except messages.Error as exc:
            if exc.code == "accountDoesNotExist":
                # The CA forgot the account (or it was deactivated): register again once.
                self._register()
                return self._issue(hostname)
            raise

    def _issue(self, hostname: str) -> store.StoredCert:
        cfg = self.config
        deadline = time.monotonic() + cfg.order_timeout
        key = store.new_private_key()
        csr = crypto_util.make_csr(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            [hostname],
        )
        provisioned: list[Path] = []
        try:
            # RFC 8555 section 7.4: new order; section 7.5: its authorizations.
            orderr = self.acme.new_order(csr)
            pending = []
            for authzr in orderr.authorizations:
                if authzr.body.status == messages.STATUS_VALID:
                    continue  # an earlier valid authorization was reused
                challb = self._choose(authzr, hostname)
                provisioned.append(self._provision(challb, hostname))
                # RFC 8555 section 7.5.1: tell the CA the challenge is ready.
                self.acme.answer_challenge(challb, self._response(challb))
                log.info("acme challenge answered", extra={"host": hostname, "challenge": _typ(challb)})
                pending.append((authzr, challb))
            for authzr, challb in pending:
                self._wait_valid(authzr, challb, hostname, deadline)
            fullchain = self._finalize(orderr, hostname, deadline)
        finally:
            for path in provisioned:
                store.remove(path)
        return store.save_cert(hostname, key, fullchain)

    def _finalize(self, orderr: messages.OrderResource, hostname: str, deadline: float) -> str:
        """RFC 8555 section 7.4: send the CSR, poll the order until it is valid, then
        download the chain (section 7.4.2). The library's own loop sleeps a second
        before every poll; CAs usually finish in less."""
        body = self.acme.begin_finalization(orderr).body
        interval = 0.1
        while True:
            if body.status == messages.STATUS_VALID and body.certificate:
                return str(self._post_as_get(body.certificate).text)
            if body.status == messages.STATUS_INVALID:
                raise ACMEError(f"order for {hostname} became invalid: {body.error or 'no reason given'}")
            if time.monotonic() + interval > deadline:
                raise ACMEError(f"order for {hostname} was not finalized in time")
            time.sleep(interval)
            interval = min(interval * 2, 2.0)
            assert orderr.uri
            body = messages.Order.from_json(self._post_as_get(orderr.uri).json())

    def _post_as_get(self, url: str) -> requests.Response:
        # RFC 8555 section 6.3: a signed POST with an empty payload.
        return self.acme.net.post(url, None, new_nonce_url=self.acme.directory["newNonce"])

    def _choose(self, authzr: messages.AuthorizationResource, hostname: str) -> messages.ChallengeBody:
        offered = {_typ(c): c for c in authzr.body.challenges}
        for typ in self.config.challenges:
            if typ in offered:
                return offered[typ]
        raise ACMEError(f"CA offers {sorted(offered)} for {hostname}, none of {list(self.config.challenges)}")

    def _provision(self, challb: messages.ChallengeBody, hostname: str) -> Path:
        chall = challb.chall
        if isinstance(chall, challenges.HTTP01):
            # RFC 8555 section 8.3: GET /.well-known/acme-challenge/<token> returns the
            # key authorization; autotls.views serves the file written here.
            path = store.http01_path(chall.encode("token"))
            if path is None:
                raise ACMEError(f"CA sent an unusable http-01 token for {hostname}")
            store.write_private(path, chall.key_authorization(self.account_key).encode("ascii"))
            return path
        if not tlsalpn.is_tls_alpn(chall):
            raise ACMEError(f"cannot answer challenge {_typ(challb)} for {hostname}")
        # RFC 8737 section 3: a certificate for the name with the acmeIdentifier
        # extension, served with ALPN acme-tls/1 (see autotls.tls).
        key_authz = tlsalpn.key_authorization(tlsalpn.token(chall), self.account_key)
        key = store.new_private_key()
        cert = tlsalpn.challenge_certificate(hostname, key_authz, key)
        path = store.alpn_path(hostname)
        store.write_private(path, store.private_key_pem(key) + cert.public_bytes(serialization.Encoding.PEM))
        return path

    def _response(self, challb: messages.ChallengeBody) -> challenges.ChallengeResponse:
        if isinstance(challb.chall, challenges.HTTP01):
            return challb.chall.response(self.account_key)
        return tlsalpn.response()

    def _wait_valid(
        self, authzr: messages.AuthorizationResource, challb: messages.ChallengeBody, hostname: str, deadline: float
    ) -> None:
        """RFC 8555 section 7.5.1: poll the authorization until it is no longer pending."""
        interval = 0.2
        while True:
            authzr, response = self.acme.poll(authzr)
            status = authzr.body.status
            if status == messages.STATUS_VALID:
                log.info("acme authorization valid", extra={"host": hostname, "challenge": _typ(challb)})
                return
            if status not in (messages.STATUS_PENDING, messages.STATUS_PROCESSING):
                problems = [str(c.error) for c in authzr.body.challenges if c.error is not None]
                detail = "; ".join(problems) or f"status {status}"
                raise ACMEError(f"{_typ(challb)} validation of {hostname} failed: {detail}")
            if time.monotonic() + interval > deadline:
                raise ACMEError(f"{_typ(challb)} validation of {hostname} did not finish in time")
            time.sleep(interval)
            interval = min(interval * 2, 2.0)


def _typ(challb: messages.ChallengeBody) -> str:
    chall = challb.chall
    if isinstance(chall, challenges.UnrecognizedChallenge):
        return str(chall.jobj.get("type"))
    return str(getattr(chall, "typ", type(chall).__name__))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "..."


def describe(exc: BaseException) -> str:
    """A one-line reason for logs and the console."""
    if isinstance(exc, errors.TimeoutError):
        return "timed out waiting for the CA"
    return _describe(exc)
