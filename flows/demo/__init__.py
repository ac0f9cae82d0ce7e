"""The bundled demo news network: small local news sites (publishers and aggregators that
reprint their stories inside template junk), served on loopback for ``newsdedup demo``, the
end-to-end tests and the crawl benchmarks."""

from flows.demo.network import DemoNetwork, DemoSite, DemoTruth, RecordedRequest

__all__ = ["DemoNetwork", "DemoSite", "DemoTruth", "RecordedRequest"]
