"""The payments context: payment methods (TMF670), payments and refunds (TMF676),
allocation, gateways, SEPA direct debit and bank statements (ISO 20022), dunning and the
aging report (docs/payments.md)."""
