"""The organisers' area: authentication, dashboard, exports and the audit log."""
