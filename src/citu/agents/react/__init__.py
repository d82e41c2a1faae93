"""The ReAct (tool-calling) agent behind ``/api/v0/ask_react_agent`` and its memory."""
