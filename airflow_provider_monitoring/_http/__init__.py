"""The one HTTP layer shared by every vendor: settings, retries, errors, pagination, both clients."""
