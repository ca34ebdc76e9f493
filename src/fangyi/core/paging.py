from functools import cached_property

from django.core.paginator import Page, Paginator


class CappedCountPaginator(Paginator):
    """A paginator that stops counting at `count_cap` matches.

    Counting every match of a broad search ("wang" in a county of a million) costs a visit
    to each of them and tells the user nothing they act on; past the cap the page says
    "more than N" and asks for a narrower search."""

    def __init__(self, object_list, per_page, *, count_cap: int | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.count_cap = count_cap
        self.capped = False

    @cached_property
    def count(self) -> int:
        if self.count_cap is None:
            return super().count
        counted = self.object_list[: self.count_cap + 1].count()
        self.capped = counted > self.count_cap
        return min(counted, self.count_cap)


def paginate(request, queryset, per_page: int, *, count_cap: int | None = None) -> tuple[Page, str]:
    """The requested page, and the query string without `page` for the page links."""
    paginator = CappedCountPaginator(queryset, per_page, count_cap=count_cap)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
