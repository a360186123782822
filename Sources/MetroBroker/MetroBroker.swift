// MetroBroker
