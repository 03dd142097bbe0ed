"""`{% export_formats as formats %}`: the registered export formats, for download links."""

from django import template

from codeframe.exports import EXPORTERS, BaseExporter

register = template.Library()


@register.simple_tag
def export_formats() -> tuple[BaseExporter, ...]:
    return EXPORTERS
