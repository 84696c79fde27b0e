from django.apps import AppConfig


class RendersConfig(AppConfig):
    name = "renders"

    def ready(self):
        # the receivers of providers' key signals and of render events; the tasks are enqueued by name
        # (renders.enqueue), so register them in every process, not only in the worker's
        from renders import receivers, tasks  # noqa: F401
