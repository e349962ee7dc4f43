"""Device protocols (decoders), the ingest pipeline, the batch writer, the MQTT client."""
