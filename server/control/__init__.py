"""The control inputs: OSC over UDP, MIDI, and the safe resolution of file names that arrive
over them (everything here faces the network or a device a stranger may drive: the security
tests find these modules by this folder)."""
