"""Server-rendered SVG charts of money and seconds per day: the geometry is computed here, the markup is a
template (templates/components.html: bar_chart, sparkline). No JavaScript, no inline styles (the CSP forbids them):
sizes are SVG attributes, colours come from static/css/app.css. Also the calendar and the number formats they use,
shared by the usage page and the staff dashboard."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    value: Decimal
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    bottom: float
    bars: tuple
    ticks: tuple
    labels: tuple  # (x, text) under some bars
    total: Decimal
    peak: Decimal
    summary: str  # what a screen reader hears instead of the picture

    @property
    def is_empty(self):
        return not self.total


def fmt_usd(value):
    return f"${Decimal(value).quantize(Decimal('0.01')):,}"


def fmt_seconds(value):
    value = Decimal(value).quantize(Decimal("0.1"))
    return f"{int(value)} s" if value == value.to_integral() else f"{value} s"


def today():
    """Today in the site's time zone (the days of the charts are the site's days)."""
    return timezone.localtime(timezone.now(), timezone.get_default_timezone()).date()


def start_of_day(day):
    return timezone.make_aware(datetime(day.year, day.month, day.day), timezone.get_default_timezone())


def days_ending(last_day, count=30):
    """The `count` calendar days up to and including `last_day`, oldest first."""
    return [last_day - timedelta(days=count - 1 - i) for i in range(count)]


def nice_ceiling(value):
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is >= value (for the top of an axis)."""
    value = Decimal(value)
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (1, 2, Decimal("2.5"), 5, 10):
        top = Decimal(step).scaleb(exponent)
        if top >= value:
            return top
    return Decimal(10).scaleb(exponent)


def bar_chart(days, values, *, fmt=str, titles=None, width=720, height=220, left=52, top=10, bottom_margin=26,
              label_every=7, name="value"):
    """A bar per day. `values[i]` belongs to `days[i]`; `fmt` formats a value for ticks and titles."""
    values = [Decimal(v) for v in values]
    plot_w, plot_h = width - left - 4, height - top - bottom_margin
    peak = max(values, default=Decimal(0))
    ceiling = nice_ceiling(peak)
    slot = plot_w / max(len(values), 1)
    gap = min(slot * 0.2, 4)
    base = top + plot_h
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = float(value / ceiling) * plot_h if value > 0 else 0.0
        if value > 0:
            h = max(h, 1.5)  # a small value stays visible
        title = titles[i] if titles else f"{day:%-d %b}: {fmt(value)}"
        bars.append(Bar(x=round(left + i * slot + gap / 2, 2), y=round(base - h, 2), width=round(slot - gap, 2),
                        height=round(h, 2), day=day, value=value, title=title))
    ticks = tuple(Tick(y=round(base - plot_h * i / 4, 2), label=fmt(ceiling * i / 4)) for i in range(5))
    labels = tuple((round(left + i * slot + slot / 2, 2), f"{day:%-d %b}") for i, day in enumerate(days)
                   if (len(days) - 1 - i) % label_every == 0)
    total = sum(values, Decimal(0))
    if total:
        best = max(range(len(values)), key=lambda i: values[i])
        summary = (f"{name.capitalize()} per day from {days[0]:%-d %b} to {days[-1]:%-d %b}: {fmt(total)} in total, "
                   f"most on {days[best]:%-d %b} ({fmt(peak)}).")
    else:
        summary = f"No {name} from {days[0]:%-d %b} to {days[-1]:%-d %b}." if days else f"No {name}."
    return Chart(width=width, height=height, left=left, bottom=base, bars=tuple(bars), ticks=ticks, labels=labels,
                 total=total, peak=peak, summary=summary)


def sparkline(days, values, *, fmt=str, width=150, height=28, name="value"):
    """A small bar chart without axes, for a table row."""
    return bar_chart(days, values, fmt=fmt, width=width, height=height, left=0, top=2, bottom_margin=0,
                     label_every=len(days) + 1, name=name)
