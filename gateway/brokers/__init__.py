"""Message brokers the gateway delivers into and reads from (RabbitMQ, Amazon SQS)."""
