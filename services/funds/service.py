"""Funds' nameko service: database, migrations, health and metrics, ready for the ledger."""
from shared.service import DoorstepService, UnitOfWorkProvider
from services.funds.persistence import FundsUnitOfWork


class FundsService(DoorstepService):
    name = "funds"
    uow = UnitOfWorkProvider(FundsUnitOfWork)
