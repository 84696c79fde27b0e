from django.apps import AppConfig


class SorawebConfig(AppConfig):
    name = "soraweb"
    verbose_name = "soraweb"
