"""Talking to the language and embedding models: clients, the text chat model, failure policy, text helpers."""
