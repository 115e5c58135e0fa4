// A marketplace's XML order -> the neutral WMS order (README.md in this directory).
// The transform reads the XML body's JSON view: attributes are "@name", an element
// that occurs once is a value and one that repeats an array, every value a string.
function handler(request) {
  const o = request.body.order;
  const s = o.shipping;
  const lines = [].concat(o.lines.line); // one <line> is an object, several an array
  return {
    body: {
      order_number: o["@id"],
      placed_at: new Date(o.created).toISOString(),
      currency: o["@currency"],
      customer: { name: o.customer.name, email: o.customer.email },
      ship_to: {
        name: s.name,
        street: s.street,
        city: s.city,
        postal_code: s.zip,
        country: s.country["@code"],
      },
      lines: lines.map((l) => ({
        sku: l["@sku"],
        quantity: Number(l.qty),
        unit_price: Number(typeof l.price === "string" ? l.price : l.price["#text"]).toFixed(2),
      })),
      total: Number(o.total).toFixed(2),
    },
    headers: { "X-Order-Channel": "marketplace" },
  };
}
