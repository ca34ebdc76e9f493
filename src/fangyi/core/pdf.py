"""Printable documents: a Django template rendered to PDF with WeasyPrint.

Document templates are self-contained: inline CSS, fonts from the system (Noto CJK through
fontconfig), images only as data: URIs. The fetcher refuses every other URL, so rendering
never touches the network or the file system whatever a template or a value in it says.
"""

from django.http import HttpResponse
from django.template.loader import render_to_string

PDF_CONTENT_TYPE = "application/pdf"


def render_pdf(template_name: str, context: dict, *, request=None) -> bytes:
    # Imported on first use: loading WeasyPrint takes seconds, which every process (server
    # workers, commands, jobs) would otherwise pay at start.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_to_string(template_name, context, request=request)
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher).write_pdf()


def pdf_response(template_name: str, context: dict, *, filename: str, request=None):
    """The PDF shown in the browser (ready to print), named for saving."""
    response = HttpResponse(
        render_pdf(template_name, context, request=request), content_type=PDF_CONTENT_TYPE
    )
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
