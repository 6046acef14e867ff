from django.contrib import admin

from .models import Department, Division


@admin.register(Division)
class DivisionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    search_fields = ("code", "name")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "division", "parent", "credit_code")
    list_filter = ("level",)
    search_fields = ("code", "name", "credit_code")
