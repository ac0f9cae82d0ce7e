"""The ``newsdedup`` subcommands, by what they load: ``running`` (Prefect flows), ``reading``
(pyarrow), ``upkeep`` (maintenance and repair), ``tools`` (demo, crawl, dedup). flows.cli
parses the command line and imports only the module of the command chosen."""
