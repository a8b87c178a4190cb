import RingLoop

print("ringloop demo placeholder")
