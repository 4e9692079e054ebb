"""The sections of the HTML report, one module each, in page order after the summary.

Each ``<name>_section(writer, ...)`` takes the report's tables (already computed from the stored results),
draws its figures and saves its tables through a :class:`~fairssl.report.page.ReportWriter`, and returns
a :class:`~fairssl.report.page.Section` whose notes say what is missing and how to get it.
"""

from __future__ import annotations

from fairssl.report.sections.audit import audit_section
from fairssl.report.sections.groups import groups_section
from fairssl.report.sections.interventions import interventions_section
from fairssl.report.sections.metrics import MAX_METRIC_ROWS, metrics_section
from fairssl.report.sections.parity import parity_section
from fairssl.report.sections.performance import performance_section
from fairssl.report.sections.probes import probes_section
from fairssl.report.sections.similarity import similarity_section
from fairssl.report.sections.supervision import supervision_section
from fairssl.report.sections.variants import variants_section

__all__ = [
    "MAX_METRIC_ROWS",
    "audit_section",
    "groups_section",
    "interventions_section",
    "metrics_section",
    "parity_section",
    "performance_section",
    "probes_section",
    "similarity_section",
    "supervision_section",
    "variants_section",
]
