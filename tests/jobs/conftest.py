from tests.jobs.money_day import mtn

__all__ = ["mtn"]
