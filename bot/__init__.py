"""The running bot: front ends (console, Telegram, Slack), the web page, the
scheduler, the command line and configuration."""
