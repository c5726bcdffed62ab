"""Sans-I/O protocol logic: dialogues are generators that yield actions and receive
their results; drivers (:mod:`netkit.drivers`) perform the I/O. No sockets, no clock."""
