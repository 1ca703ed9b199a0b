"""The stream runtime: a Session runs a Stream in its own thread and feeds frame sinks."""

from .session import EncodedFrame, FrameSink, Session, SessionStatus, encode_image

__all__ = ["EncodedFrame", "FrameSink", "Session", "SessionStatus", "encode_image"]
