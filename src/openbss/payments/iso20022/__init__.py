"""ISO 20022 messages of the payments context: the SEPA direct debit initiation
(pain.008.001.08 and .02) openbss writes, and the bank statements and notifications
(camt.053 / camt.054, versions .02 and .08) it reads. Pure: no database, no clock."""
