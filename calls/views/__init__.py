"""Views for calls, by audience: public episodes, a reader's own calls, and staff."""
