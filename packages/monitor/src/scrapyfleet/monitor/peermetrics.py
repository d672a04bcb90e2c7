"""The Prometheus text of crawl-master (`--crawl-metrics`) and ftpsink (`--ftpsink-metrics`),
parsed into the console's figures.

crawl-master's metrics the console reads:

| name | type | labels | meaning |
|---|---|---|---|
| `scrapyfleet_crawl_batches` | gauge | `state` = queued, running, done, failed | batches |
| `scrapyfleet_crawl_urls` | gauge | `outcome` = landed, gone, no_item, failed, pending | URLs |
| `scrapyfleet_crawl_pages_total` | counter | | pages the workers fetched |
| `scrapyfleet_crawl_items_total` | counter | | items the workers exported |
| `scrapyfleet_crawl_attempts_total` | counter | | batch attempts scheduled |
| `scrapyfleet_crawl_retries_total` | counter | | attempts after a first one |
| `scrapyfleet_crawl_nodes` | gauge | `state` = usable, set_aside | nodes |
| `scrapyfleet_crawl_started_timestamp_seconds` | gauge | | the run's start (Unix time) |
| `scrapyfleet_crawl_finished` | gauge | `outcome` = ok, failed | 1 on the outcome at the end |
| `scrapyfleet_crawl_sites_down` | gauge | | sites held fleet-wide (site_down / site_up) |

ftpsink's (`--ftpsink-metrics URL`): `scrapyfleet_ftpsink_uploads_total{outcome=landed|refused|
aborted}` and `scrapyfleet_ftpsink_bytes_total` (bytes landed).
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from scrapyfleet.monitor.readings import Crawl, SourceError, Uploads

MAX_METRICS = 2**20  # bytes of a metrics page (crawl-master's and ftpsink's are a few KiB)
Labels = dict[str, str]
Samples = dict[str, list[tuple[Labels, float]]]  # sample name -> (labels, value) of each sample


def parse_samples(text: str) -> Samples:
    """Prometheus text -> samples by name; SourceError if it does not parse."""
    samples: Samples = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    except ValueError as e:
        raise SourceError(f"not Prometheus text: {e}") from None
    return samples


def _one(samples: Samples, name: str) -> float | None:
    values = samples.get(name)
    return values[0][1] if values else None


def _by(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {labels[label]: value for labels, value in samples.get(name, []) if label in labels}


def crawl_from(samples: Samples) -> Crawl:
    """crawl-master's figures from its samples (module docstring); absent ones are None/empty."""
    ended = [
        (labels.get("outcome"), v) for labels, v in samples.get("scrapyfleet_crawl_finished", [])
    ]
    outcome = next((o or "unknown" for o, v in ended if v >= 1), None)
    return Crawl(
        batches=_by(samples, "scrapyfleet_crawl_batches", "state"),
        urls=_by(samples, "scrapyfleet_crawl_urls", "outcome"),
        pages=_one(samples, "scrapyfleet_crawl_pages_total"),
        items=_one(samples, "scrapyfleet_crawl_items_total"),
        attempts=_one(samples, "scrapyfleet_crawl_attempts_total"),
        retries=_one(samples, "scrapyfleet_crawl_retries_total"),
        nodes=_by(samples, "scrapyfleet_crawl_nodes", "state"),
        started=_one(samples, "scrapyfleet_crawl_started_timestamp_seconds"),
        outcome=outcome,
        sites_down=_one(samples, "scrapyfleet_crawl_sites_down"),
        intake_open=_one(samples, "scrapyfleet_crawl_intake_open"),
    )


def uploads_from(samples: Samples) -> Uploads:
    """ftpsink's figures from its samples."""
    return Uploads(
        uploads=_by(samples, "scrapyfleet_ftpsink_uploads_total", "outcome"),
        bytes=_one(samples, "scrapyfleet_ftpsink_bytes_total"),
    )
