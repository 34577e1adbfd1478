from __future__ import annotations

from django.urls import path

from accounts import mail_views, settings_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("password/", views.password, name="password"),
    path("rulesets/", settings_views.rulesets, name="rulesets"),
    path("rulesets/<int:n>/", settings_views.ruleset_edit, name="ruleset_edit"),
    path("rulesets/<int:n>/<str:op>/", settings_views.ruleset_op, name="ruleset_op"),
    path("junk/", settings_views.junk, name="junk"),
    path("import/", mail_views.import_page, name="import"),
    path("import/<str:job>/progress.json", mail_views.import_progress, name="import_progress"),
    path("import/<str:job>/abort/", mail_views.import_abort, name="import_abort"),
    path("export/", mail_views.export_page, name="export"),
    path("export/download/", mail_views.export_download, name="export_download"),
]
