from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"

    def ready(self):
        # the audit log's signal receivers watch key, allowance, budget and role saves; the tasks are enqueued by
        # name (the modules that enqueue them are imported by providers.tasks), so register them in every process
        from providers import audit, tasks  # noqa: F401
