// MetroRegistry
