"""What every phone channel (USSD, SMS, Telegram's payer numbers) shares: GSM-7 text, callers, receipts, and the
ASCII-safe words and amounts a handset shows. It names no provider: a wallet's label, the words that name it and the
numbers whose wallet it is come from the provider's parts (`gateway.kit.phone_wallets`)."""
