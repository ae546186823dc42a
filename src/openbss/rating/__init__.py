"""Rating: tariffs (destination tables, time bands, rates, CGRateS tariff plans), the
catalog's usage prices and allowances, and the two rating engines (per record and
vectorized) that turn guided usage into rated usage. See docs/usage-and-rating.md."""
