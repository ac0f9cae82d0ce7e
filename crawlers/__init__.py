"""The crawl stage: a Scrapy project (spiders, middlewares, item pipelines) plus the
per-page cleaning code in :mod:`crawlers.clean`. Nothing here imports Prefect."""
