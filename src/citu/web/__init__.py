"""The wire: how service results become HTTP envelopes and Server-Sent Event frames."""
