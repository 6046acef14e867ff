"""The demo city (示范市): builds every app's demo data, in dependency order, through each app's own code."""
