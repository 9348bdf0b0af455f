"""The portal's pages, one module per area. Datasets and notebooks add theirs here."""

from __future__ import annotations

from aidc.portal.routes import (
    account,
    data_access,
    datasets,
    jobs,
    notebooks,
    operator,
    org,
    reviews,
    validations,
)

ROUTERS = (
    account.router,
    jobs.router,
    org.router,
    reviews.router,
    operator.router,
    datasets.router,
    data_access.router,
    notebooks.router,
    validations.router,
)
