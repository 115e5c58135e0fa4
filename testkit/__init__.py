"""What the tests, the bench and the fault suite share: one home for each helper.

Senders' signing recipes (``senders``), a real subscriber on loopback (``sinks``), bounded
polling (``polling``), test tokens (``tokens``), stored records (``factories``), the real
``webhook-gateway serve`` in a subprocess (``processes``), a PostgreSQL for tests
(``postgres``), a TCP proxy that cuts connections (``tcpproxy``), a stand-in DNS
(``resolver``), ``/metrics`` as Prometheus reads it (``scrape``), bulk rows
(``bulkdata``), real brokers (``rabbitmq``, ``sqs``), a consumer's view of their queues
(``consumers``), a proxy that holds SQS calls back (``sqsproxy``), Amazon's notifications
and SNS envelopes (``amazon``) and the README's examples (``readme``). Imported from a
checkout only: it is not part of the wheel or the image.
"""
