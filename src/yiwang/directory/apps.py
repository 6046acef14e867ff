from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "yiwang.directory"
    verbose_name = "组织机构"
