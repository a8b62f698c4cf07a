"""Plotly figure builders: Report in, Figure out. No streamlit here."""
