"""netkit test suite."""
