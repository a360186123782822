// MetroKit
