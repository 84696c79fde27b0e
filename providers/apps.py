from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"

    def ready(self):
        # the audit log's signal receivers watch key, allowance, budget and role saves
        from providers import audit  # noqa: F401
