"""crewtrack package."""
