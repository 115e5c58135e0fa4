// Shopify orders/create -> the neutral WMS order (README.md in this directory).
function handler(request) {
  const o = request.body;
  const a = o.shipping_address;
  return {
    body: {
      order_number: String(o.order_number),
      placed_at: new Date(o.created_at).toISOString(),
      currency: o.currency,
      customer: {
        name: `${o.customer.first_name} ${o.customer.last_name}`,
        email: o.email,
      },
      ship_to: {
        name: `${a.first_name} ${a.last_name}`,
        street: [a.address1, a.address2].filter(Boolean).join(", "),
        city: a.city,
        postal_code: a.zip,
        country: a.country_code,
      },
      lines: o.line_items.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        unit_price: Number(l.price).toFixed(2),
      })),
      total: Number(o.total_price).toFixed(2),
    },
    headers: { "X-Order-Channel": "shopify" },
  };
}
