"""Airtel Money, through the Airtel Africa Open API: the Collection API's USSD push (a prompt on the payer's phone,
its status by enquiry, its callback to the URL configured on the Airtel app) and the Disbursement API (payouts)."""
