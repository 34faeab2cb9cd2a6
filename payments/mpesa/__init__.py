"""M-Pesa (Safaricom Daraja): a prompt on the payer's phone (STK Push, Lipa na M-Pesa Online), refunds by Reversal
and payouts by B2C."""
