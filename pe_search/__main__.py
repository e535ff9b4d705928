from pe_search.cli.main import cli

cli()
