"""`{% export_formats as formats %}`, `{% tracker_export_formats as formats %}`: the registered
export formats of a codeframe and of a tracker, for download links (read when the page is
drawn: a format registered since is listed)."""

from django import template

from codeframe import exports
from codeframe.exports import BaseExporter, BaseTrackerExporter

register = template.Library()


@register.simple_tag
def export_formats() -> tuple[BaseExporter, ...]:
    return exports.EXPORTERS


@register.simple_tag
def tracker_export_formats() -> tuple[BaseTrackerExporter, ...]:
    return exports.TRACKER_EXPORTERS
