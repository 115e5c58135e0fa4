"""Sources that read a queue instead of taking webhooks: one reader per kind of broker
(``sqs.py``, ``amqp.py``), kept in step with the sources by ``readers.py``; what they
share (``tally.py``: status, metrics and log lines; ``pause.py``: retrying a broker)."""
