"""Notices: the partner's notice settings (when ``channel.expiring`` and ``runway.low``
fire, which events are mailed) and the email digests the worker sends."""
