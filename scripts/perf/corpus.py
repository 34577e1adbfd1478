"""A deterministic corpus of realistic ~20 KB messages for the incoming-path
measurements: a text part and its HTML alternative (quoted-printable), a small
base64 attachment, header fields as a mailing list or a newsletter sends them.

Words are drawn from a fixed vocabulary (common English words and syllable-built
ones), so that a trained account knows most of a message's words and each message
still has words of its own, as real mail does.
"""
from __future__ import annotations

import base64
import quopri
import random

COMMON = (
    "the of and to in is you that it he was for on are as with his they at be this have from or one had by word "
    "but not what all were we when your can said there use an each which she do how their if will up other about "
    "out many then them these so some her would make like him into time has look two more write go see number no "
    "way could people my than first water been call who oil its now find long down day did get come made may part "
    "over new sound take only little work know place year live me back give most very after thing our just name "
    "good sentence man think say great where help through much before line right too mean old any same tell boy "
    "follow came want show also around form three small set put end does another well large must big even such "
    "because turn here why ask went men read need land different home us move try kind hand picture again change "
    "off play spell air away animal house point page letter mother answer found study still learn should america "
    "world meeting project report budget schedule review customer invoice order shipping account payment offer "
    "price free money click claim winner prize bonus discount limited unsubscribe newsletter update security "
    "password verify team office holiday support contract delivery service quarterly planning agenda minutes"
).split()

SYLLABLES = "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu ga ge gi go gu la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu".split()


def vocabulary(size: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def _sentence(rng: random.Random, vocab: list[str], own: list[str]) -> str:
    n = rng.randint(8, 18)
    words = [rng.choice(own) if rng.random() < 0.08 else vocab[int(len(vocab) * rng.random() ** 2.5)] for _ in range(n)]
    return " ".join(words).capitalize() + "."


def message(i: int, vocab: list[str], *, size: int = 20 * 1024, sender: str = "news@example.test") -> bytes:
    """Message number i: about `size` bytes, CRLF line ends."""
    rng = random.Random(1000 + i)
    own = ["".join(rng.choice(SYLLABLES) for _ in range(3)) + str(i % 7) for _ in range(40)]
    paragraphs: list[str] = []
    total = 0
    # Text and HTML carry the same text (the HTML with markup is about 1.6 times as
    # long); together with the attachment and headers about `size` bytes.
    while total < size * 0.30:
        p = " ".join(_sentence(rng, vocab, own) for _ in range(rng.randint(2, 5)))
        paragraphs.append(p)
        total += len(p) + 2
    text = "\r\n\r\n".join(paragraphs) + "\r\n"
    html = (
        "<html><head><style>p { color: #333; } .x { margin: 0 }</style></head><body>"
        + "".join(
            f'<p class="x" style="font-family:Arial">{p[:40]}<b>{p[40:60]}</b>{p[60:]}</p>'
            f'<a href="https://www.example.test/l/{i}/{k}?utm_source=news">more</a>'
            for k, p in enumerate(paragraphs)
        )
        + '<img src="https://www.example.test/pixel.gif" alt="company logo"></body></html>'
    )
    attachment = bytes(rng.getrandbits(8) for _ in range(int(size * 0.10)))
    boundary_mixed = f"mixed-{i:08d}"
    boundary_alt = f"alt-{i:08d}"
    headers = (
        f"From: Example News <{sender}>\r\n"
        f"To: Alice <alice@moxweb.test>\r\n"
        f"Subject: {_sentence(rng, vocab, own)[:60]}\r\n"
        f"Date: Mon, 20 Nov 2023 10:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <{i}.{rng.getrandbits(32):x}@example.test>\r\n"
        "List-Id: Example news <news.example.test>\r\n"
        f"List-Unsubscribe: <https://www.example.test/unsub/{i}>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary_mixed}"\r\n'
        "\r\n"
    )
    qp_text = quopri.encodestring(text.encode()).decode().replace("\r\n", "\n").replace("\n", "\r\n")
    qp_html = quopri.encodestring(html.encode()).decode().replace("\r\n", "\n").replace("\n", "\r\n")
    b64 = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    body = (
        f"--{boundary_mixed}\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary_alt}"\r\n\r\n'
        f"--{boundary_alt}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{qp_text}\r\n"
        f"--{boundary_alt}\r\n"
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{qp_html}\r\n"
        f"--{boundary_alt}--\r\n\r\n"
        f"--{boundary_mixed}\r\n"
        'Content-Type: application/pdf; name="report.pdf"\r\n'
        'Content-Disposition: attachment; filename="report.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{b64}"
        f"--{boundary_mixed}--\r\n"
    )
    return (headers + body).encode()
