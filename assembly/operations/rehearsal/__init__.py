"""`gateway rehearse`: a staging installation driven at 150% of the expected peak, judged against the SLOs."""
